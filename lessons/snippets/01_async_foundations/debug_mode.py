import asyncio
import time


async def handler() -> None:
    time.sleep(0.2)  # noqa: ASYNC251 -- the bug that debug mode reports


async def main() -> None:
    loop = asyncio.get_running_loop()
    loop.slow_callback_duration = 0.05  # report any step that holds the loop this long
    await asyncio.create_task(handler(), name="GET /report")


if __name__ == "__main__":
    asyncio.run(main(), debug=True)  # or: PYTHONASYNCIODEBUG=1 python debug_mode.py
