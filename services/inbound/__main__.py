"""python -m services.inbound"""

from libs.runtime.service import run
from services.inbound.app import build

if __name__ == "__main__":
    svc, setup = build()
    run(svc, setup)
