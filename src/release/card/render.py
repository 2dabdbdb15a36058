"""Renders the model card from a Jinja2 template: the shipped `default` or `minimal`, or a
user's template file. A missing value is an error, never an empty section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from release.config import Config
from release.errors import ConfigError
from release.resources import data_path

BUILT_IN = ("default", "minimal")


def _template(config: Config) -> jinja2.Template:
    name = config.card.template
    if name in BUILT_IN:
        folder, file = data_path("model_card_templates"), f"{name}.md.j2"
    else:
        path = (config.root / name).resolve() if not Path(name).is_absolute() else Path(name)
        if not path.is_file():
            raise ConfigError(config.path, "card.template",
                              f"{name!r} is neither {' nor '.join(BUILT_IN)} nor a template file")
        folder, file = path.parent, path.name
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False, trim_blocks=False)
    try:
        return environment.get_template(file)
    except jinja2.TemplateError as exc:
        raise ConfigError(config.path, "card.template", f"the template is invalid ({exc})") \
            from None


def render(config: Config, data: dict[str, Any]) -> str:
    try:
        return _template(config).render(**data)
    except jinja2.UndefinedError as exc:
        raise ConfigError(config.path, "card.template",
                          f"the template uses a value the card does not have ({exc})") from None
