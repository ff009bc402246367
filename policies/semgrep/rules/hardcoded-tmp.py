"""Test cases for ml-hardcoded-tmp-path: scratch directories of training jobs."""

import os
import tempfile


class MongoWorker:
    # hyperopt 0.2.7, tests/integration/test_mongoexp.py
    # ruleid: ml-hardcoded-tmp-path
    def __init__(self, workdir="/tmp/hyperopt_test"):
        self.workdir = workdir


def save_checkpoint(model):
    # ruleid: ml-hardcoded-tmp-path
    model.save("/tmp/ckpt/model.pt")


def scratch():
    # ok: ml-hardcoded-tmp-path
    return tempfile.mkdtemp(prefix="train-")


def test_workdir_is_temporary(worker):
    # ok: ml-hardcoded-tmp-path
    assert worker.workdir.startswith("/tmp")
    # ok: ml-hardcoded-tmp-path
    assert os.path.dirname(worker.log) == "/tmp/logs", "logs go to /tmp/logs"


def not_a_tmp_path():
    # ok: ml-hardcoded-tmp-path
    return "/tmpfs-is-not-tmp"
