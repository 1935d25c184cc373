"""python -m services.outbound"""

from libs.runtime.service import run
from services.outbound.app import build

if __name__ == "__main__":
    svc, setup = build()
    run(svc, setup)  # type: ignore[arg-type]
