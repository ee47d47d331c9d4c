import pytest

from workbook.testing import client_for, expect_json, expect_status


async def test_greets(exercise):
    """GET / answers 200 with the greeting"""
    async with client_for(exercise.app) as client:
        response = await client.get("/")
    expect_status(response, 200)
    expect_json(response, {"hello": "world"})


@pytest.mark.stub_may_pass("the stub already routes GET only")
async def test_only_get(exercise):
    """POST / is not allowed"""
    async with client_for(exercise.app) as client:
        response = await client.post("/")
    expect_status(response, 405)
