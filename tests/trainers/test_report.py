"""The trainer's metrics: macro precision / recall / F1 computed with torch (checked against a
hand-made confusion matrix), and its reports to trainq's metrics channel, received by a real
local HTTP server from a real training run; an unreachable channel never stops training."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from tests.trainers.helpers import run, trainer_env
from trainers.intent_classification.evaluate import scores
from trainers.intent_classification.report import Reporter

pytestmark = pytest.mark.trainer


def test_macro_scores_match_a_hand_computed_confusion_matrix():
    truth = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    got = scores(predicted, truth, num_classes=4)  # class 3 absent from both: not averaged
    # precision: 2/2, 1/2, 1/2; recall: 2/3, 1/2, 1/1
    precision = (1 + 0.5 + 0.5) / 3
    recall = (2 / 3 + 0.5 + 1) / 3
    f1 = (2 * 1 * (2 / 3) / (1 + 2 / 3) + 0.5 + 2 * 0.5 * 1 / 1.5) / 3
    assert got["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert got["precision_macro"] == pytest.approx(precision, abs=1e-6)
    assert got["recall_macro"] == pytest.approx(recall, abs=1e-6)
    assert got["f1_macro"] == pytest.approx(f1, abs=1e-6)


def test_a_class_never_predicted_has_precision_zero():
    got = scores(torch.tensor([0, 0]), torch.tensor([0, 1]), num_classes=2)
    assert got["precision_macro"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert got["recall_macro"] == pytest.approx(0.5)


class Receiver:
    """A local HTTP receiver; `refuse` first answers are 429 (Retry-After: 0.1) and not kept."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.bodies: list[dict] = []
        self.auth: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.refuse > 0:
                    receiver.refuse -= 1
                    self.send_response(429)
                    self.send_header("Retry-After", "0.1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                receiver.auth.append(self.headers.get("Authorization", ""))
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/teams/t/jobs/1/metrics"


def test_a_real_run_reports_each_epoch_and_its_final_metrics(tmp_path):
    receiver = Receiver()
    env = trainer_env(EPOCHS="2", MODEL_DIR=str(tmp_path / "model"),
                      CHECKPOINT_DIR=str(tmp_path / "ckpt"),
                      TRAINQ_METRICS_URL=receiver.url, TRAINQ_METRICS_TOKEN="tok")  # fmt: skip
    result = run(env)
    receiver.server.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(receiver.auth) == {"Bearer tok"}
    epochs = [p for b in receiver.bodies for p in b.get("epochs", [])]
    assert sorted({p["epoch"] for p in epochs}) == [1, 2]
    assert {"train_loss", "val_accuracy", "seconds"} <= set(epochs[0]["values"])
    (final,) = [b for b in receiver.bodies if "final" in b]
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert final["weights_sha256"] == manifest["weights"]["sha256"]
    assert final["hyperparameters"]["epochs"] == 2
    for key in ("test_accuracy", "test_precision_macro", "test_recall_macro", "test_f1_macro"):
        assert 0 < final["final"][key] <= 1
        assert final["final"][key] == manifest["metrics"][key]


def test_an_unreachable_channel_never_stops_training(tmp_path):
    env = trainer_env(EPOCHS="1", MODEL_DIR=str(tmp_path / "model"),
                      CHECKPOINT_DIR=str(tmp_path / "ckpt"),
                      TRAINQ_METRICS_URL="http://127.0.0.1:9/metrics",
                      TRAINQ_METRICS_TOKEN="tok")  # fmt: skip
    result = run(env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("could not report metrics") == 1


def test_non_finite_values_travel_by_name():
    sent = []
    reporter = Reporter("http://x", "t")
    reporter._post = lambda body, tries=1: sent.append(body) or True
    reporter.epochs([{"epoch": 1, "train_loss": float("nan")}])
    reporter.epochs([{"epoch": 1, "train_loss": float("nan")}, {"epoch": 2, "train_loss": 1.0}])
    assert sent[0]["epochs"] == [{"epoch": 1, "values": {"train_loss": "NaN"}}]
    assert [p["epoch"] for p in sent[1]["epochs"]] == [2]  # epoch 1 was delivered already


def test_fast_epochs_are_paced_and_every_one_still_arrives():
    receiver = Receiver()
    reporter = Reporter(receiver.url, "tok")
    history = []
    for epoch in range(1, 11):  # ten epochs at once: trainq takes 10 reports a second
        history.append({"epoch": epoch, "train_loss": 1.0 / epoch})
        reporter.epochs(history)
    reporter.final(history, {"test_accuracy": 0.9}, "0" * 64, {"epochs": 10})
    receiver.server.shutdown()
    epoch_posts = [b for b in receiver.bodies if "epochs" in b]
    assert len(epoch_posts) == 2  # the first epoch, then the other nine with the final ones
    assert sorted(p["epoch"] for b in epoch_posts for p in b["epochs"]) == list(range(1, 11))
    assert [b["final"] for b in receiver.bodies if "final" in b] == [{"test_accuracy": 0.9}]


def test_the_final_report_waits_out_a_429(capsys):
    receiver = Receiver(refuse=2)
    reporter = Reporter(receiver.url, "tok")
    reporter.final([{"epoch": 1, "train_loss": 0.5}], {"test_accuracy": 0.8}, "0" * 64, {})
    receiver.server.shutdown()
    assert [b.get("final") for b in receiver.bodies] == [None, {"test_accuracy": 0.8}]
    assert "could not report" not in capsys.readouterr().err
