from tests.e2e.integrators import integrator_db  # noqa: F401
