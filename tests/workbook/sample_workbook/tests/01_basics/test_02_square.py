import pytest

from workbook.testing import client_for, expect_json


@pytest.mark.parametrize("n", [2, 3])
async def test_square(exercise, n):
    """GET /square/{n} answers its square"""
    async with client_for(exercise.app) as client:
        response = await client.get(f"/square/{n}")
    expect_json(response, {"result": n * n})
