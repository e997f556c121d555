"""The site's search finds a chapter by a word that only that chapter uses."""

import pytest
from conftest import open_page

# page -> a word that occurs in that page only
SEARCH_WORDS = {
    "chapters/introduction": "absorbance",
    "chapters/calculus": "secant",
    "chapters/probability": "quincunx",
    "chapters/linear_algebra": "eigendigit",
    "chapters/mnist": "ellipticals",
    "chapters/open_problems": "onnxruntime",
}


@pytest.mark.parametrize(("doc", "word"), SEARCH_WORDS.items())
def test_search_lists_the_one_chapter_that_uses_a_word(page, server, doc, word):
    open_page(page, server, "search", query=f"?q={word}")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for()
    hrefs = [results.nth(i).locator("a").first.get_attribute("href")
             for i in range(results.count())]
    assert any(href.split("?")[0].split("#")[0].endswith(f"{doc}.html") for href in hrefs), hrefs
    assert len(hrefs) == 1, f"'{word}' should occur in one page only, search listed {hrefs}"
