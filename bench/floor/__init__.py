"""The web benchmark's own settings and URLs: the site plus a floor view."""
