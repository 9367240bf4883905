"""Ansible Vault for swarmctl: the secrets a command was given, for swarmctl itself (it
validates vaulted inventories and specs before any run) and for ansible-playbook.

The options are Ansible's: `--vault-password-file FILE` (a file, or an executable that
prints the password), `--ask-vault-pass`, `--vault-id [LABEL@]FILE|prompt`; the user's
ansible.cfg `vault_password_file` / `vault_identity_list` count too, as they do for
ansible-playbook.

Nothing decrypted is written anywhere: swarmctl decrypts in memory to validate, and
ansible-playbook gets the same options (file paths only). A password typed at a prompt
is asked once, here, and answered to ansible-playbook's own prompt through
ansible-runner's pexpect `passwords` (never an extra var, an environment variable or
a file: ansible-runner writes those into the run folder).
"""

from __future__ import annotations

import getpass
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmctl.ansible.display import one_line, quiet
from swarmctl.errors import InputError

HOWTO = "pass --vault-password-file FILE, --ask-vault-pass or --vault-id LABEL@FILE"


@dataclass(frozen=True)
class VaultOptions:
    """The vault options of one command, as the user typed them."""

    password_files: tuple[str, ...] = ()
    ask: bool = False
    ids: tuple[str, ...] = ()

    def cmdline(self) -> list[str]:
        """The same options for ansible-playbook."""
        args: list[str] = []
        for path in self.password_files:
            args += ["--vault-password-file", str(Path(path).expanduser().resolve())]
        for ident in self.ids:
            label, source = split_id(ident)
            if source not in ("prompt", "prompt_ask_vault_pass"):
                source = str(Path(source).expanduser().resolve())
            args += ["--vault-id", f"{label}@{source}" if label else source]
        if self.ask:
            args.append("--ask-vault-pass")
        return args


@dataclass
class _State:
    options: VaultOptions = field(default_factory=VaultOptions)
    prompted: list[tuple[str, str, str]] = field(default_factory=list)  # label, regex, pw
    secrets: list[tuple[str, Any]] | None = None


_state = _State()


def split_id(ident: str) -> tuple[str | None, str]:
    """`label@source` → (label, source); `source` alone → (None, source)."""
    if "@" in ident:
        label, source = ident.split("@", 1)
        return label or None, source
    return None, ident


def configure(options: VaultOptions) -> None:
    """Use these options for this process; asks the prompted passwords now (a terminal
    is needed for them)."""
    _state.options = options
    _state.secrets = None
    _state.prompted = []
    for path in options.password_files:
        if not Path(path).expanduser().exists():
            raise InputError(f"{path}: vault password file not found; {HOWTO}")
    asks = [(None, "prompt_ask_vault_pass")] if options.ask else []
    for ident in options.ids:
        label, source = split_id(ident)
        if source in ("prompt", "prompt_ask_vault_pass"):
            asks.append((label, source))
        elif not Path(source).expanduser().exists():
            raise InputError(f"--vault-id {ident}: {source} not found; give the path of a "
                             "vault password file, or LABEL@prompt")
    for label, source in asks:
        if not sys.stdin.isatty():
            raise InputError("--ask-vault-pass needs a terminal to type the password in; "
                             "use --vault-password-file FILE instead")
        if source == "prompt_ask_vault_pass":
            prompt, regex = "Vault password: ", r"^Vault password:\s*?$"
        else:
            name = label or "default"
            prompt = f"Vault password ({name}): "
            regex = rf"^Vault password \({re.escape(name)}\):\s*?$"
        password = getpass.getpass(prompt)
        if not password:
            raise InputError("the vault password is empty; type the password, or use "
                             "--vault-password-file FILE")
        _state.prompted.append((label or "default", regex, password))


def options() -> VaultOptions:
    return _state.options


def pexpect_passwords() -> dict[str, str]:
    """ansible-runner's `passwords`: the answers to ansible-playbook's vault prompts."""
    return {regex: password for _, regex, password in _state.prompted}


def secrets() -> list[tuple[str, Any]]:
    """Ansible VaultSecrets for this process (files are read, scripts run, once)."""
    if _state.secrets is not None:
        return _state.secrets
    from ansible import constants as C
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultSecret, VaultSecretsContext

    found: list[tuple[str, Any]] = [(label, VaultSecret(password.encode()))
                                    for label, _, password in _state.prompted]
    opts = _state.options
    ids = [i for i in opts.ids if split_id(i)[1] not in ("prompt", "prompt_ask_vault_pass")]
    files = [str(Path(p).expanduser()) for p in opts.password_files]
    if ids or files or C.DEFAULT_VAULT_PASSWORD_FILE or C.DEFAULT_VAULT_IDENTITY_LIST:
        from ansible.cli import CLI
        from ansible.parsing.dataloader import DataLoader

        with quiet():
            try:
                found += CLI.setup_vault_secrets(DataLoader(), vault_ids=ids,
                                                 vault_password_files=files,
                                                 ask_vault_pass=False, auto_prompt=False,
                                                 initialize_context=False)
            except AnsibleError as exc:
                raise InputError(f"cannot read the vault password: {one_line(exc)}; "
                                 f"{HOWTO}") from None
    if VaultSecretsContext.current(optional=True) is None:
        VaultSecretsContext.initialize(VaultSecretsContext(found))
    else:
        VaultSecretsContext.current().secrets[:] = found
    _state.secrets = found
    return found


def refusal(where: str, exc: BaseException) -> InputError:
    """The one line for a value or file that could not be decrypted."""
    text = str(getattr(exc, "message", "") or exc)
    if "no vault secrets found" in text or not _state.secrets:
        return InputError(f"{where}: is encrypted with Ansible Vault and no vault password "
                          f"was given; {HOWTO}")
    if "Decryption failed" in text:
        return InputError(f"{where}: the vault password given does not decrypt it; pass the "
                          "password it was encrypted with")
    return InputError(f"{where}: cannot be decrypted ({one_line(exc)}); {HOWTO}")


def decrypt_file(path: Path, data: bytes) -> bytes:
    """The plaintext of a file encrypted with ansible-vault (in memory only)."""
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultLib

    try:
        return VaultLib(secrets()).decrypt(data)
    except AnsibleError as exc:
        raise refusal(str(path), exc) from None


def decrypt_text(ciphertext: str, where: str) -> str:
    """The plaintext of one `!vault` value (in memory only)."""
    return decrypt_file(Path(where), ciphertext.encode()).decode("utf-8", "replace")
