"""`python -m openqr [COMMAND ...]`, and the script the single binary is built from."""

from openqr.main import main

main()
