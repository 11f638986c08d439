from surveil.cli import main

main()
