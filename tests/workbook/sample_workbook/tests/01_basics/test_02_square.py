import pytest

from workbook.testing import client_for, expect_json


@pytest.mark.parametrize("n", [2, 3])
async def test_square(exercise, n):
    """GET /square/{n} answers its square"""
    async with client_for(exercise.app) as client:
        response = await client.get(f"/square/{n}")
    expect_json(response, {"result": n * n})


async def test_matches_the_reference(exercise, reference):
    """answers like the reference for small numbers"""
    for n in range(-3, 4):
        async with client_for(exercise.app) as mine, client_for(reference.app) as theirs:
            got, want = await mine.get(f"/square/{n}"), await theirs.get(f"/square/{n}")
        expect_json(got, want.json())
