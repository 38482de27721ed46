from greenhouse.launch import main

main()
