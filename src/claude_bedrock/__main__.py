from claude_bedrock.cli.main import main

main()
