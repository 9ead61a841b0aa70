from retailedge.cli import main

main()
