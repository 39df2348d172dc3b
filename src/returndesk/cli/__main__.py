from returndesk.cli import main

main()
