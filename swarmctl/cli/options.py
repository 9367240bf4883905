"""Options shared by the commands, so that every verb spells them the same way.

A verb that runs a playbook takes Ansible's own options too, and hands them over once:

    def upgrade(inventory: InventoryArg, extra_vars: ExtraVarsOpt = None,
                vault_password_file: VaultPasswordFileOpt = None,
                ask_vault_pass: AskVaultPassOpt = False, vault_id: VaultIdOpt = None,
                verbose: VerboseOpt = 0) -> None:
        inv = options.load_inventory(inventory, extra_vars, vault_password_file,
                                     ask_vault_pass, vault_id)
        ...   # run_playbook() passes -e, the vault options and every -i source itself

(`InventoriesOpt` is the repeatable `-i` of verbs whose argument is something else.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_INVENTORY_HELP = ("Ansible inventory: a YAML or INI file, a directory (with group_vars/ "
                   "and host_vars/), an inventory plugin config or script; hosts in the "
                   "groups swarm_managers and swarm_workers.")

InventoryArg = Annotated[
    Path, typer.Argument(help=_INVENTORY_HELP, show_default=False)
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True,
                      help="Show Ansible's own output (-vv, -vvv for more).")
]
InventoryOpt = Annotated[
    Path, typer.Option("--inventory", "-i", show_default=False, help=_INVENTORY_HELP)
]
LockWaitOpt = Annotated[
    float, typer.Option("--lock-wait", metavar="SECONDS",
                        help="Wait this long for another swarmctl run on this swarm to "
                             "finish (default: refuse at once, exit 5).")
]
MoreInventoriesOpt = Annotated[
    list[Path] | None, typer.Option(
        "--inventory", "-i", show_default=False,
        help="Another inventory source, merged as ansible-playbook merges several -i "
             "(repeatable).")
]
ExtraVarsOpt = Annotated[
    list[str] | None, typer.Option(
        "--extra-vars", "-e", show_default=False, metavar="VARS",
        help="Variables that override the inventory's, as ansible-playbook's -e: key=value "
             "pairs, YAML/JSON, or @FILE (repeatable; the last wins). Checked like the "
             "inventory before any host is contacted.")
]
VaultPasswordFileOpt = Annotated[
    list[Path] | None, typer.Option(
        "--vault-password-file", show_default=False, metavar="FILE",
        help="Ansible Vault password file (or an executable that prints it), for vaulted "
             "inventory variables, group_vars files and spec secrets (repeatable).")
]
AskVaultPassOpt = Annotated[
    bool, typer.Option("--ask-vault-pass", help="Ask for the Ansible Vault password.")
]
VaultIdOpt = Annotated[
    list[str] | None, typer.Option(
        "--vault-id", show_default=False, metavar="[LABEL@]FILE|prompt",
        help="An Ansible Vault identity, as ansible-playbook takes it (repeatable).")
]

PruneOpt = Annotated[
    bool, typer.Option("--prune", help="Also remove the nodes the inventory no longer lists "
                       "(drained, demoted, made to leave, removed from the node list).")
]
LimitOpt = Annotated[
    str | None, typer.Option(
        "--limit", "-l", show_default=False, metavar="PATTERN",
        help="Work on these hosts only (an Ansible host pattern: names, groups, globs, "
             "!host): provision converges only them, check probes only them. Every manager "
             "is still part of the run, read but not changed: the swarm's state and join "
             "tokens come from them. Refused when it matches no host, and (exit 3, nothing "
             "changed) when there is no swarm yet and it leaves out the first manager, "
             "which creates it.")
]


def limit_hosts(inv, pattern: str | None, extra_vars: list[str] | None = None
                ) -> list[str] | None:
    """The inventory's hosts a --limit selects, in inventory order (None: no limit)."""
    if pattern is None:
        return None
    from swarmctl.ansible import inventory as ansible_inventory
    from swarmctl.errors import InputError

    chosen = set(ansible_inventory.select(list(inv.sources or (inv.path,)), pattern,
                                          tuple(extra_vars or ())))
    selected = [h.name for h in inv.hosts if h.name in chosen]
    if not selected:
        raise InputError(f"--limit {pattern}: matches no host of swarm_managers or "
                         "swarm_workers; give host or group names of the inventory")
    return selected


def load_inventory(sources: Path | list[Path], extra_vars: list[str] | None = None,
                   vault_password_file: list[Path] | None = None,
                   ask_vault_pass: bool = False, vault_id: list[str] | None = None):
    """Set up the vault and run options for this command, then load the inventory.

    Everything a playbook run needs is kept for swarmctl.ansible.runner (one command,
    one set of options); the returned Inventory is validated with -e applied.
    """
    from swarmctl.ansible import runner, vault
    from swarmctl.models import inventory

    vault.configure(vault.VaultOptions(
        password_files=tuple(str(p) for p in vault_password_file or ()),
        ask=ask_vault_pass, ids=tuple(vault_id or ())))
    paths = [sources] if isinstance(sources, Path) else list(sources)
    extra = tuple(extra_vars or ())
    inv = inventory.load(paths, extra_vars=extra)
    runner.use(runner.RunOptions(extra_vars=extra, inventory=tuple(paths)))
    return inv
