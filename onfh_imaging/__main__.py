from onfh_imaging.cli import main

raise SystemExit(main())
