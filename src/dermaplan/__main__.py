from dermaplan.cli import main

main()
