"""The demo seed's stages, one module per area, each adding rows to a `DemoBuilder` (run by `seed_demo`)."""
