import asyncio

from .conftest import Service


async def test_live_answers_without_touching_resources(service: Service) -> None:
    response = await service.client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_every_resource(service: Service) -> None:
    response = await service.client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == set(service.state["readiness_checks"])
    assert all(status == "ok" for status in body["checks"].values())


async def test_ready_is_503_with_the_failing_check_named(service: Service) -> None:
    async def broken() -> None:
        raise ConnectionError("refused")

    service.state["readiness_checks"]["broken"] = broken

    response = await service.client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broken"] == "error"
    assert "refused" not in response.text


async def test_ready_gives_up_on_a_hanging_check(service: Service) -> None:
    async def hanging() -> None:
        await asyncio.sleep(60)

    service.state["readiness_checks"]["hanging"] = hanging
    timeout = service.state["settings"].readiness_timeout

    async with asyncio.timeout(timeout + 5):
        response = await service.client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["hanging"] == "timeout"
