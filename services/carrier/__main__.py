"""python -m services.carrier"""

from libs.runtime.service import run
from services.carrier.app import build

if __name__ == "__main__":
    svc, setup = build()
    run(svc, setup)
