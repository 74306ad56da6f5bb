"""The API's browsable docs load under the site's strict CSP, from our own
static files, with no CSP violation and no console error."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_load_with_no_csp_violation_or_console_error(page, live_server):
    problems = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )

    response = page.goto("/api/v1/docs/")

    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI has read the schema and lists the endpoints.
    page.get_by_text("/api/v1/films/{slug}/").first.wait_for()
    page.get_by_text("/api/v1/search/").first.wait_for()
    assert problems == []
    assert all(url.startswith(live_server.url) for url in requests), requests
