from greenhouse.cli import main

main()
