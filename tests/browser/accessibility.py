"""An accessibility scan (axe-core) shared by the browser tests."""


def serious_accessibility_problems(browser, base_url, urls, scheme):
    """axe-core's serious and critical findings on each page, in one scheme."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = browser.new_context(base_url=base_url, color_scheme=scheme)
    page = context.new_page()
    problems = []
    for url in urls:
        page.goto(url)
        for violation in axe.run(page).response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:3]
                problems.append(f"{url}: {violation['id']} {targets}")
    context.close()
    return problems
