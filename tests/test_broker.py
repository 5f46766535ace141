"""The zero-setup broker never shows a reader a message that is still being written."""

import os

from kombu import Connection

from ccb import broker


def test_a_message_appears_in_the_queue_folder_only_whole(tmp_path, monkeypatch):
    broker.install()
    folder = tmp_path / "broker"
    folder.mkdir()
    seen_while_writing = []
    real_replace = os.replace

    def replace(src, dst):
        # the moment before the rename: what would a worker listing the folder find?
        seen_while_writing.extend(n for n in os.listdir(folder) if n.endswith(".msg"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    with Connection("filesystem://", transport_options=options) as conn:
        assert isinstance(conn.transport, broker.Transport)
        queue = conn.SimpleQueue("deployments")
        queue.put({"run": 7})
        assert seen_while_writing == []
        assert queue.get(timeout=1).payload == {"run": 7}
        queue.close()
