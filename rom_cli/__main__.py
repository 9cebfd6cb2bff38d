"""`python -m rom_cli` is the same as the `rom` console script."""

from rom_cli.cli import main

raise SystemExit(main())
