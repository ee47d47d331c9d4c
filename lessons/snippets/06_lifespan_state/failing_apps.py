from registry import Resource, create_app

startup_fails = create_app(
    Resource("db"),
    Resource("cache", fail_open=True),
    Resource("client"),
)
close_fails = create_app(
    Resource("db"),
    Resource("cache", fail_close=True),
    Resource("client"),
)
