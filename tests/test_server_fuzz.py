"""Property-based: schemathesis sends what deepworks' OpenAPI schema allows to a real
`deepworks serve` (the breast-cancer MLP of test_deploy, behind its token); no request may get
a server error."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.test_deploy import server  # noqa: F401  (the served model, started for real)

AUTH = {"Authorization": "Bearer s3cret"}
EXAMPLES = 40  # per operation: bounded, so `make test` stays quick


def test_no_request_gets_a_server_error(server):  # noqa: F811
    client, *_ = server
    schema = schemathesis.openapi.from_url(f"{client.base_url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/metadata"}
    seen: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            response = case.call(headers=AUTH)
            seen.setdefault(case.operation.path, set()).add(response.status_code)
            assert response.status_code < 500, (case.path, response.text[:300])

        no_server_error()
    assert seen["/health"] == {200}
    assert any(code == 422 for code in seen["/predict"])  # it did send bad rows
