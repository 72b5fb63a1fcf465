"""Two API processes and two worker processes against one Temporal server and one
database: work goes through both APIs alternately, one worker is killed, and
everything still completes with every email sent once."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.replicas import Replicas
from worker.seed import DEMO_PASSWORD


@pytest.fixture
def replicas(settings, sessions, state_dir: Path):
    running = Replicas(
        settings.model_copy(update={"temporal_task_queue": f"cvms-replicas-{uuid.uuid4().hex[:6]}"}),
        logs=state_dir,
    )
    yield running
    running.stop_all()


async def test_two_apis_and_two_workers_share_the_work_and_survive_a_killed_worker(replicas, smtp):
    urls = [replicas.start_api(), replicas.start_api()]
    first_worker = replicas.start_worker()
    replicas.start_worker()

    tag = f"replica{uuid.uuid4().hex[:5]}"
    emails: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = []
        for url in urls:
            login = await http.post(
                f"{url}/auth/login", json={"login_name": "manager", "password": DEMO_PASSWORD}
            )
            tokens.append({"Authorization": f"Bearer {login.json()['token']}"})
        # A session opened on one replica works on the other: nothing lives in a process.
        me = await http.get(f"{urls[1]}/auth/me", headers=tokens[0])
        assert me.status_code == 200

        for i in range(6):
            if i == 3:
                replicas.kill(first_worker)
            url, headers = urls[i % 2], tokens[i % 2]
            emails.append(f"{tag}.{i}@clinic.example")
            response = await http.post(
                f"{url}/location/users",
                json={
                    "first_name": "Rep",
                    "last_name": "Lica",
                    "email": emails[-1],
                    "login_name": f"{tag}.{i}",
                    "role": "provider",
                },
                headers=headers,
            )
            assert response.status_code == 201, response.text

    for email in emails:
        await smtp.wait_for(lambda m, e=email: m["To"] == e, timeout=60)

    async def exactly_once() -> bool:
        return sorted(m["To"] for m in smtp.messages if m["To"].startswith(tag)) == sorted(emails)

    assert await eventually(exactly_once, timeout=5, what="each email once")
    assert smtp.store.duplicates() == {}
