"""`python -m openqr [COMMAND ...]`, and the script the single binary is built from."""

import gc
import multiprocessing

# In the single binary, a render worker process is the binary started again with
# `--multiprocessing-fork`: this hands it to multiprocessing before anything else runs.
multiprocessing.freeze_support()

# Loading the app makes hundreds of thousands of objects that all live as long as the process:
# collecting meanwhile finds nothing and costs a tenth of the start-up. `main` turns it back on
# (serving: after moving those objects out of the collector's reach).
gc.disable()

from openqr.main import main  # noqa: E402

main()
