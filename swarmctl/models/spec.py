"""The services spec: networks, secrets, configs, services and stacks, as declared in YAML.

The same keys work as inventory variables with the prefix `swarm_services_`
(`swarm_services_services`, `swarm_services_networks`, ...), which the role
`swarm_services` applies. Here the file is read and validated before anything is
applied: every problem becomes an `InputError`, one line naming the file, the item,
the field and the fix.

    networks:
      - {name: backend, encrypted: true, subnet: 10.20.0.0/24}
    secrets:
      - {name: db_password, file: db_password.txt}     # or value: ...
    services:
      - name: my-web
        image: my-web:v1
        replicas: 3
        publish: [{published: 8080, target: 80}]      # mode: ingress (default) | host
        networks: [backend]
        secrets: [db_password]
    stacks:
      - {name: monitoring, compose: monitoring.yml}

Relative file paths are relative to the spec file's folder.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from swarmctl.errors import InputError
from swarmctl.models import yamlfile

KINDS = ("networks", "secrets", "configs", "services", "stacks")
_NAME_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
_DURATION_RE = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
_MEMORY_RE = re.compile(r"^\d+(\.\d+)?[bkmgBKMG]?[bB]?$")

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=_NAME_RE)]
Port = Annotated[int, Field(ge=1, le=65535)]
# Docker stores counts in 64 bits and refuses more only after the spec was sent to it:
# bound them here, far above any real use.
MAX_COUNT = 1_000_000


def _duration(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value)
    if not _DURATION_RE.match(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. 10s, 500ms, 1m30s")
    return value


Duration = Annotated[str, Field(description="a Go duration such as 10s or 1m30s")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(_Strict):
    """An overlay network (attachable, optionally encrypted with IPsec)."""

    name: Name
    driver: Literal["overlay"] = "overlay"
    attachable: bool = False
    encrypted: bool = False
    subnet: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_network(value, strict=True)
        return value


class _Data(_Strict):
    """A secret or config: from a file (on the machine running swarmctl) or a value."""

    name: Name
    file: str | None = None
    value: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False
    # named NAME-<digest of the content> in the swarm: a new content is a new object
    # that the services using it roll to (mounted under NAME); earlier ones are removed
    versioned: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> _Data:
        given = [k for k in ("file", "value") if getattr(self, k) is not None]
        if self.external and self.versioned:
            raise ValueError("an external one is created outside this spec and cannot be "
                             "versioned: remove versioned")
        if self.versioned and len(self.name) > 52:
            raise ValueError(f"{self.name!r} is too long to be versioned (at most 52 "
                             "characters: the swarm name adds 11); shorten it")
        if self.external and given:
            raise ValueError(f"an external one is created outside this spec: remove {given[0]}")
        if not self.external and len(given) != 1:
            raise ValueError("give exactly one of file or value (or external: true)")
        return self


class Secret(_Data):
    pass


class Config(_Data):
    pass


class Publish(_Strict):
    published: Port
    target: Port
    protocol: Literal["tcp", "udp"] = "tcp"
    mode: Literal["ingress", "host"] = "ingress"


class DataRef(_Strict):
    """A secret or config mounted in a service's containers."""

    name: Name
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = Field(None, ge=0, le=0o777)


class Resources(_Strict):
    cpus: float | None = Field(None, gt=0, le=4096, allow_inf_nan=False)
    memory: str | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY_RE.match(str(value)):
            raise ValueError(f"{value!r} is not a size; write e.g. 64M or 1G")
        return value


class ResourcesSpec(_Strict):
    limits: Resources | None = None
    reservations: Resources | None = None


class Healthcheck(_Strict):
    test: list[str] | str
    interval: Duration | None = None
    timeout: Duration | None = None
    start_period: Duration | None = None
    retries: int | None = Field(None, ge=0, le=MAX_COUNT)

    _durations = field_validator("interval", "timeout", "start_period")(
        classmethod(lambda cls, v: _duration(v)))


class RestartPolicy(_Strict):
    condition: Literal["none", "on-failure", "any"] = "any"
    delay: Duration | None = None
    max_attempts: int | None = Field(None, ge=0, le=MAX_COUNT)
    window: Duration | None = None

    _durations = field_validator("delay", "window")(classmethod(lambda cls, v: _duration(v)))


class UpdateConfig(_Strict):
    parallelism: int | None = Field(None, ge=0, le=MAX_COUNT)
    delay: Duration | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    order: Literal["stop-first", "start-first"] | None = None
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"

    _durations = field_validator("delay", "monitor")(classmethod(lambda cls, v: _duration(v)))


class RollbackConfig(_Strict):
    parallelism: int | None = Field(None, ge=0, le=MAX_COUNT)
    delay: Duration | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    order: Literal["stop-first", "start-first"] | None = None
    failure_action: Literal["pause", "continue"] | None = None

    _durations = field_validator("delay", "monitor")(classmethod(lambda cls, v: _duration(v)))


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    text = str(value).strip()
    number = text[:-1] if text.endswith("%") else text
    try:
        out = float(number)
    except ValueError:
        raise ValueError(f"{value!r} is not a percentage; write e.g. 70% or 70") from None
    if not 0 < out <= 10_000:
        raise ValueError(f"{value!r} is out of range; write a percentage above 0, e.g. 70%")
    return out


class ScaleWindow(_Strict):
    """How fast one direction may go: a stabilisation window and a step limit."""

    window: Duration | None = None
    step: int | None = Field(None, ge=1, le=MAX_COUNT)

    _durations = field_validator("window")(classmethod(lambda cls, v: _duration(v)))


class Autoscale(_Strict):
    """Replicas follow the load, as Kubernetes' HPA: targets are the tasks' average use
    as a percentage of their reservation (resources.reservations)."""

    min: int = Field(ge=1, le=MAX_COUNT)
    max: int = Field(ge=1, le=MAX_COUNT)
    cpu: float | str | None = None
    memory: float | str | None = None
    scale_up: ScaleWindow | None = None
    scale_down: ScaleWindow | None = None
    cooldown: Duration | None = None

    _percents = field_validator("cpu", "memory")(classmethod(lambda cls, v: _percent(v)))
    _durations = field_validator("cooldown")(classmethod(lambda cls, v: _duration(v)))

    @model_validator(mode="after")
    def _bounds(self) -> Autoscale:
        if self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}; set max >= min")
        if self.cpu is None and self.memory is None:
            raise ValueError("no target; set cpu (e.g. cpu: 70%) or memory (e.g. memory: 80%)")
        return self


class Autoscaler(_Strict):
    """The autoscaler itself: how often it looks, and its image when you bring one."""

    interval: Duration = "15s"
    image: str | None = Field(None, min_length=1)

    _durations = field_validator("interval")(classmethod(lambda cls, v: _duration(v)))


class Service(_Strict):
    """A swarm service, converged with community.docker.docker_swarm_service."""

    name: Name
    image: str = Field(min_length=1)
    mode: Literal["replicated", "global"] = "replicated"
    replicas: int | None = Field(None, ge=0, le=MAX_COUNT)
    command: list[str] | str | None = None
    args: list[str] | None = None
    env: dict[str, str | int | float | bool] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    container_labels: dict[str, str] = Field(default_factory=dict)
    publish: list[Publish] = Field(default_factory=list)
    networks: list[Name] = Field(default_factory=list)
    endpoint_mode: Literal["vip", "dnsrr"] | None = None
    constraints: list[str] = Field(default_factory=list)
    preferences: list[dict[Literal["spread"], str]] = Field(default_factory=list)
    max_replicas_per_node: int | None = Field(None, ge=1, le=MAX_COUNT)
    resources: ResourcesSpec | None = None
    healthcheck: Healthcheck | None = None
    secrets: list[Name | DataRef] = Field(default_factory=list)
    configs: list[Name | DataRef] = Field(default_factory=list)
    restart_policy: RestartPolicy | None = None
    update_config: UpdateConfig = Field(default_factory=UpdateConfig)
    rollback_config: RollbackConfig | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    stop_grace_period: Duration | None = None
    stop_signal: str | None = None
    autoscale: Autoscale | None = None

    _durations = field_validator("stop_grace_period")(classmethod(lambda cls, v: _duration(v)))

    @model_validator(mode="after")
    def _mode(self) -> Service:
        if self.mode == "global" and self.replicas is not None:
            raise ValueError("replicas: a global service runs one task per node; remove "
                             "replicas or set mode: replicated")
        if self.endpoint_mode == "dnsrr" and any(p.mode == "ingress" for p in self.publish):
            raise ValueError("publish: endpoint_mode dnsrr cannot publish in ingress mode; "
                             "use mode: host for its ports")
        if self.autoscale is not None:
            self._check_autoscale(self.autoscale)
        return self

    def _check_autoscale(self, auto: Autoscale) -> None:
        if self.mode == "global":
            raise ValueError("autoscale: a global service runs one task per node; remove "
                             "autoscale or set mode: replicated")
        if self.replicas is not None and not auto.min <= self.replicas <= auto.max:
            raise ValueError(f"replicas: {self.replicas} is outside autoscale's {auto.min}.."
                             f"{auto.max}; set replicas within min..max (it is the starting "
                             "count) or leave it out")
        reserved = self.resources.reservations if self.resources else None
        for metric, unit in (("cpu", "cpus: 0.5"), ("memory", "memory: 256M")):
            if getattr(auto, metric) is not None and (
                    reserved is None or getattr(reserved, "cpus" if metric == "cpu"
                                                else "memory") is None):
                raise ValueError(
                    f"autoscale: a {metric} target is a percentage of the {metric} each task "
                    f"reserves, and this service reserves none; set resources: "
                    f"{{reservations: {{{unit}}}}}")

    @property
    def one_shot(self) -> bool:
        return self.restart_policy is not None and self.restart_policy.condition == "none"

    def data_names(self, kind: str) -> list[str]:
        return [r if isinstance(r, str) else r.name for r in getattr(self, kind)]


class Stack(_Strict):
    """A stack deployed from a compose file, as `docker stack deploy` does."""

    name: Name
    compose: str = Field(min_length=1)
    prune: bool = False


class Spec(_Strict):
    networks: list[Network] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    configs: list[Config] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    stacks: list[Stack] = Field(default_factory=list)
    autoscaler: Autoscaler | None = None

    @property
    def empty(self) -> bool:
        return not any(getattr(self, kind) for kind in KINDS)

    def autoscaled(self) -> list[Service]:
        return [s for s in self.services if s.autoscale is not None]

    def ingress_ports(self) -> list[tuple[str, int]]:
        """(service, port) published through the ingress routing mesh."""
        return [(s.name, p.published) for s in self.services for p in s.publish
                if p.mode == "ingress"]


# --------------------------------------------------------------------------- loading

_SINGULAR = {"networks": "network", "secrets": "secret", "configs": "config",
             "services": "service", "stacks": "stack"}

_HOWTO = {
    "replicas": f"set replicas to a number from 0 to {MAX_COUNT} (or mode: global)",
    "published": "use a port from 1 to 65535",
    "target": "use a port from 1 to 65535",
    "image": "set image to the image to run, e.g. nginx:1.27 or my-web:v1",
    "name": "use letters, digits, '-', '_' and '.', starting with a letter or digit",
    "mode": "use one of the listed values",
    "subnet": "write a network in CIDR form with its host bits zero, e.g. 10.20.0.0/24",
    "min": f"set autoscale's min to a number of replicas from 1 to {MAX_COUNT}",
    "max": f"set autoscale's max to a number of replicas from 1 to {MAX_COUNT}",
    "step": f"set step to a number of tasks from 1 to {MAX_COUNT}",
}
for _field in ("interval", "timeout", "start_period", "delay", "monitor", "window",
               "stop_grace_period", "cooldown"):
    _HOWTO[_field] = "write a duration such as 10s, 500ms or 1m30s"


def _describe(loc: tuple[Any, ...], data: dict[str, Any]) -> tuple[str, str]:
    """('service my-web', 'publish[0].published') from a pydantic error location."""
    if not loc:
        return "file", ""
    kind = str(loc[0])
    if kind not in _SINGULAR or len(loc) < 2 or not isinstance(loc[1], int):
        return "file", ".".join(str(p) for p in loc)
    items = data.get(kind) or []
    item = items[loc[1]] if loc[1] < len(items) else None
    name = item.get("name") if isinstance(item, dict) else None
    where = f"{_SINGULAR[kind]} {name}" if name else f"{kind}[{loc[1]}]"
    field = ""
    for part in loc[2:]:
        if isinstance(part, int):
            field += f"[{part}]"
        elif part in ("str", "DataRef", "list[str]", "constrained-str") or "[" in str(part) \
                or part.startswith("function-"):
            continue  # pydantic's union-branch labels
        else:
            field += f".{part}" if field else str(part)
    return where, field


def _error_line(path: Path, exc: ValidationError, data: dict[str, Any]) -> str:
    errors = exc.errors()
    # Unknown fields first (a typo explains the rest), then errors outside union
    # branches that expect a plain string (a `name` or a mapping was meant).
    def rank(e: Any) -> int:
        if e["type"] == "extra_forbidden":
            return 0
        return 2 if e["type"] == "string_type" and len(e["loc"]) > 3 else 1
    err = sorted(errors, key=rank)[0]
    where, field = _describe(tuple(err["loc"]), data)
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    last = field.rsplit(".", 1)[-1].split("[")[0] if field else ""
    if kind == "extra_forbidden":
        allowed = _allowed_fields(tuple(err["loc"]))
        hint = f"remove it or use one of: {', '.join(allowed)}" if allowed else "remove it"
        return f"{path}: {where}: unknown field '{field}'; {hint}"
    if kind == "missing":
        return f"{path}: {where}: field '{last}' is missing; " + _HOWTO.get(
            last, f"add {last}")
    fix = _HOWTO.get(last, "see examples/my-web/ for a valid spec")
    if "; " in msg:  # our own validators already say how to fix it
        msg, fix = msg.split("; ", 1)
    head = f"{path}: {where}: "
    if field:
        head += f"field '{field}': "
    return f"{head}{msg}; {fix}"


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Spec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            if part == "DataRef":
                model = DataRef
            continue
        ann = fields[part].annotation
        model = _model_in(ann)
        if model is None:
            return []
    return sorted(getattr(model, "model_fields", {}))


def _model_in(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse(data: Any, path: Path, base_dir: Path | None = None) -> Spec:
    """Validate spec data (already read from YAML). Raises InputError, one line."""
    if data is None:
        raise InputError(f"{path}: is empty; declare at least one of: {', '.join(KINDS)}")
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level is a {type(data).__name__}, not a mapping; "
                         f"write the keys {', '.join(KINDS)} at the top level")
    for kind in KINDS:
        if kind in data and data[kind] is not None and not isinstance(data[kind], list):
            raise InputError(f"{path}: {kind}: expected a list of items with a name, got a "
                             f"{type(data[kind]).__name__}; write '- name: ...' entries")
    data = {k: (v if v is not None or k not in KINDS else []) for k, v in data.items()}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise InputError(_error_line(path, exc, data)) from None
    _check(spec, path, base_dir if base_dir is not None else path.parent)
    return spec


def load(path: str | Path) -> Spec:
    """Read and validate a spec file. Raises InputError with a one-line message."""
    path = Path(path)
    data = yamlfile.read(path, "a services spec YAML file")
    yamlfile.prove_vaulted(data, path)  # `value: !vault |`: the password must work
    return parse(data, path)


def _check(spec: Spec, path: Path, base: Path) -> None:
    """Rules across items: unique names, references, published ports, files."""
    for kind in KINDS:
        seen: set[str] = set()
        for item in getattr(spec, kind):
            if item.name in seen:
                raise InputError(f"{path}: {_SINGULAR[kind]} {item.name}: declared twice; "
                                 f"give each {_SINGULAR[kind]} its own name")
            seen.add(item.name)
    networks = {n.name for n in spec.networks}
    declared = {"secrets": {s.name for s in spec.secrets},
                "configs": {c.name for c in spec.configs}}
    ports: dict[tuple[int, str], str] = {}
    for svc in spec.services:
        for net in svc.networks:
            if net not in networks:
                raise InputError(
                    f"{path}: service {svc.name}: network '{net}' is not declared; add it "
                    f"under networks (with external: true if it exists already)")
        for kind in ("secrets", "configs"):
            for ref in svc.data_names(kind):
                if ref not in declared[kind]:
                    raise InputError(
                        f"{path}: service {svc.name}: {_SINGULAR[kind]} '{ref}' is not "
                        f"declared; add it under {kind} (with external: true if it exists "
                        f"already)")
        own: set[tuple[int, str]] = set()
        for pub in svc.publish:
            key = (pub.published, pub.protocol)
            if key in ports:
                raise InputError(
                    f"{path}: service {svc.name}: published port {pub.published}/"
                    f"{pub.protocol} is also published by service {ports[key]}; give each "
                    f"service its own published port")
            if key in own:
                raise InputError(
                    f"{path}: service {svc.name}: published port {pub.published}/"
                    f"{pub.protocol} is listed twice; publish each port once")
            own.add(key)
        for key in own:
            ports[key] = svc.name
    for kind in ("secrets", "configs"):
        for item in getattr(spec, kind):
            if item.file is not None:
                file = Path(item.file) if Path(item.file).is_absolute() else base / item.file
                if not file.is_file():
                    raise InputError(f"{path}: {_SINGULAR[kind]} {item.name}: file "
                                     f"{item.file} not found (looked at {file}); fix the "
                                     f"path (relative to the spec file) or use value:")
    for stack in spec.stacks:
        file = Path(stack.compose) if Path(stack.compose).is_absolute() else base / stack.compose
        if not file.is_file():
            raise InputError(f"{path}: stack {stack.name}: compose file {stack.compose} not "
                             f"found (looked at {file}); fix the path (relative to the spec "
                             f"file)")
