"""Which nodes count as lost for the jobs counted on them (pure): deleted, or NotReady for
NOT_READY_SECONDS; a cordoned node, or one NotReady for a moment, is not."""

from queue_workers.watcher.nodeloss import NOT_READY_SECONDS, lost_nodes

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def node(name, ready="True", since="2027-01-15T07:00:00Z", unschedulable=False):
    return {"metadata": {"name": name}, "spec": {"unschedulable": unschedulable},
            "status": {"conditions": [{"type": "Ready", "status": ready,
                                       "lastTransitionTime": since}]}}  # fmt: skip


def test_deleted_and_long_not_ready_nodes_are_lost_others_are_not():
    nodes = [node("cordoned", unschedulable=True), node("down", ready="Unknown"),
             node("blip", ready="False", since="2027-01-15T07:59:50Z")]  # fmt: skip
    lost = lost_nodes(nodes, {"cordoned", "down", "blip", "deleted"}, NOW)
    assert lost == {"deleted": "was deleted", "down": "has been NotReady for 3600s"}
    assert "blip" in lost_nodes(nodes, {"blip"}, NOW + NOT_READY_SECONDS)  # later, it is
