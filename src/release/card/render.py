"""Renders the model card from a Jinja2 template: the shipped `default` or `minimal`, or a
user's template file. A missing value is an error, never an empty section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from release.errors import ConfigError
from release.resources import data_path

BUILT_IN = ("default", "minimal")


def _template(name: str, config_path: Path) -> jinja2.Template:
    """A built-in template by name, or the user's template file (relative to the config)."""
    if name in BUILT_IN:
        folder, file = data_path("model_card_templates"), f"{name}.md.j2"
    else:
        path = (config_path.parent / name).resolve() if not Path(name).is_absolute() \
            else Path(name)
        if not path.is_file():
            raise ConfigError(config_path, "card.template",
                              f"{name!r} is neither {' nor '.join(BUILT_IN)} nor a template file")
        folder, file = path.parent, path.name
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False, trim_blocks=False)
    try:
        return environment.get_template(file)
    except jinja2.TemplateError as exc:
        raise ConfigError(config_path, "card.template", f"the template is invalid ({exc})") \
            from None


def render(template: str, config_path: Path, data: dict[str, Any]) -> str:
    """The card from `template` (`[card].template`) and what card_data collected."""
    try:
        return _template(template, config_path).render(**data)
    except jinja2.UndefinedError as exc:
        raise ConfigError(config_path, "card.template",
                          f"the template uses a value the card does not have ({exc})") from None
