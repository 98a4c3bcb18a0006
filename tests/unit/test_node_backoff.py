"""A node whose workers keep failing is set aside for 2 s, 4 s, … at most 30 s (server.cluster.node_backoff)."""

from server.cluster.node_backoff import NodeBackoff


def test_each_failure_doubles_the_time_a_node_is_set_aside_up_to_the_most():
    backoff = NodeBackoff()
    waits = [backoff.failed("n1", now=100.0) for _ in range(6)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0] and backoff.failures("n1") == 6


def test_a_node_is_set_aside_until_its_time_is_up_and_others_are_not():
    backoff = NodeBackoff()
    backoff.failed("n1", now=10.0)
    backoff.failed("n1", now=11.0)  # 4 s from the second failure
    assert backoff.set_aside("n1", now=12.0) == 3.0 and backoff.set_aside("n1", now=15.0) == 0.0
    assert backoff.set_aside("n2", now=12.0) == 0.0 and backoff.failures("n2") == 0
    assert backoff.failed("", now=1.0) == 0.0  # a worker whose node was never known sets nothing aside
