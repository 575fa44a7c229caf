"""The public map site: the page a browser gets at ``/``, its scripts and MapLibre GL JS."""

from geoplatform.site.views import make_site_blueprint

__all__ = ["make_site_blueprint"]
