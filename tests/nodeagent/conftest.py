"""The node agent lives in k8s/local/nodeagent and is run with PYTHONPATH=k8s/local; its tests
import it the same way."""

import sys
from pathlib import Path

AGENT_PARENT = Path(__file__).resolve().parents[2] / "k8s" / "local"
if str(AGENT_PARENT) not in sys.path:
    sys.path.insert(0, str(AGENT_PARENT))
