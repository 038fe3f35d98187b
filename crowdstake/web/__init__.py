"""The tournament's dashboard (`crowdstake web`): server-rendered HTML pages and their JSON under
`/api`, read from an index file (`crowdstake index`), with charts as inline SVG. Nothing is
fetched from elsewhere: no script, no font, no stylesheet but the page's own.

- `app`: `create_app(index_path, ...)`, the FastAPI app (routes, 404s, verification);
- `pages`: each page's HTML from its data (`crowdstake.index.dashboard`);
- `html`: escaping, formatting, tables, the page layout;
- `svg`: the charts.

docs/dashboard.md describes the pages, the API and the command."""

from crowdstake.web.app import create_app

__all__ = ["create_app"]
