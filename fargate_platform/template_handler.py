"""`type: platform`: the template handler every stack file of the project uses.

    template:
      type: platform
      path: service.py          # a module under the project's templates/

It calls the module's `sceptre_handler(sceptre_user_data)`, as Sceptre's `file` handler
does for a Python template, with two differences:
- An error the user caused (a PlatformError: bad config, packaging, a name) reaches the
  CLI as one line, its message alone. Sceptre's `file` handler logs template-traceback
  lines first for anything a Python template raises, and those lines name the template
  that happened to load the configuration (every template reads the whole environment),
  not the file and key at fault. Other exceptions are bugs: they keep their traceback.
- Each module is loaded once per process, not once per stack: 500 services share one
  `service.py`.
"""
import importlib.util
import threading
from pathlib import Path

from sceptre.exceptions import TemplateNotFoundError, TemplateSceptreHandlerError
from sceptre.template_handlers import TemplateHandler

from fargate_platform.config_model import UserDataError
from fargate_platform.sceptre_errors import PlatformSceptreError, sceptre_errors

_modules = {}
_modules_lock = threading.Lock()  # Sceptre renders the stacks of a batch on a thread pool


class PlatformTemplate(TemplateHandler):
    def schema(self):
        return {
            "type": "object",
            "properties": {"path": {"type": "string", "pattern": r"^[A-Za-z0-9_/]+\.py$"}},
            "required": ["path"],
            "additionalProperties": False,
        }

    @sceptre_errors
    def handle(self):
        path = Path(self.stack_group_config["project_path"]) / "templates" / self.arguments["path"]
        try:
            return render(path, self.sceptre_user_data)
        except UserDataError as error:
            raise PlatformSceptreError(f"config/{self.name}.yaml: {error}") from None


def render(path, sceptre_user_data):
    """The template text that the module at `path` makes for `sceptre_user_data`."""
    handler = getattr(_module(Path(path)), "sceptre_handler", None)
    if handler is None:
        raise TemplateSceptreHandlerError(f"{path} has no sceptre_handler(sceptre_user_data)")
    return handler(sceptre_user_data)


def _module(path):
    with _modules_lock:
        if path not in _modules:
            if not path.is_file():
                raise TemplateNotFoundError(f"no such template file: {path}")
            spec = importlib.util.spec_from_file_location(f"fargate_platform_stack_template.{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[path] = module
        return _modules[path]
