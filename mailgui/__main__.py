from mailgui.cli import main

main()
