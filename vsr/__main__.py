from vsr.cli.main import main

main()
