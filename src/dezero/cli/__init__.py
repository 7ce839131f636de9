"""The pieces of `python -m dezero`: one module per subcommand plus data and model builders."""
