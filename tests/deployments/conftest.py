"""moto in server mode for the deployment tests: one server per session on 127.0.0.1 (a free port),
emptied before each test, its recorder on, boto3 pointed at it through AWS_ENDPOINT_URL. The
scheduling fixtures live with ccb's tests; the engine needs them too."""

from __future__ import annotations

import logging
import os

import pytest

from ..ccb.conftest import approve, windows  # noqa: F401 - fixtures, re-exported for these tests
from .moto_server import REGION, Moto


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    # moto reads where to write its recording when it is first imported; if something imported it
    # before, its recorder is pointed at the same file.
    recording = str(tmp_path_factory.mktemp("moto") / "recording.jsonl")
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", recording)
    from moto.moto_api import recorder
    from moto.server import ThreadedMotoServer

    recorder._location = os.environ["MOTO_RECORDER_FILEPATH"]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Moto(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def moto(moto_server, settings):
    moto_server.reset()
    settings.AWS_ENDPOINT_URL = moto_server.url
    return moto_server


@pytest.fixture(scope="session")
def base_session():
    """Dummy credentials, never the machine's own."""
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture
def calls():
    """The request ids the adapter reported, as the engine's callback would keep them."""
    return []


@pytest.fixture
def aws(moto, base_session, calls):
    from deployments.aws import Aws, SessionConfig

    return Aws(SessionConfig(region=REGION, max_attempts=1), on_call=calls.append, base_session=base_session)
