"""A team's completion webhooks through the chart: its values reach trainq's configuration
(loaded by trainq's own loader) and the watchers get the secret's variable from extraEnv,
never the secret itself in the ConfigMap."""

from tests.deploy import values_sets
from tests.deploy.test_config_assembly import assemble
from tests.deploy.tools import documents, one
from wrapper.config import load_config

HOOK = {"url": "https://frontend.example.com/trainq", "secret_env": "ALPHA_WEBHOOK_SECRET",
        "events": ["job.succeeded", "job.failed", "job.stalled"]}  # fmt: skip
SECRET_REF = {
    "name": "ALPHA_WEBHOOK_SECRET",
    "valueFrom": {"secretKeyRef": {"name": "trainq-webhooks", "key": "alpha"}},
}


def test_webhooks_reach_the_config_and_their_secret_the_watcher(offline_tools, tmp_path):
    values = values_sets.two_teams()
    values["teams"][0]["webhooks"] = [HOOK]
    values["watcher"] = {"extraEnv": [SECRET_REF]}
    values["config"] = {"images": {"allowed_prefixes": ["docker.io/"]},
                        "events": {"webhook_max_attempts": 5}}  # fmt: skip
    docs = documents(offline_tools.template("tq", "trainq", values))
    configmap = one(docs, "ConfigMap", "-config")
    proc, out = assemble(tmp_path, configmap, one(docs, "Secret", "trainq-tokens"))
    assert proc.returncode == 0, proc.stderr
    config = load_config(out)
    (hook,) = config.team("alpha").webhooks
    assert (hook.url, hook.secret_env, hook.events) == (HOOK["url"], HOOK["secret_env"],
                                                       HOOK["events"])  # fmt: skip
    assert config.team("beta").webhooks == []
    assert config.events.webhook_max_attempts == 5
    (watcher,) = [d for d in docs if d["kind"] == "Deployment"
                  and d["metadata"]["name"].endswith("-watcher")]  # fmt: skip
    (container,) = watcher["spec"]["template"]["spec"]["containers"]
    assert SECRET_REF in container["env"]
