"""The `callcenter` command's subcommands, one module per concept. `callcenter.cli` names them and
imports a module only when one of its commands runs (or shows its help)."""
