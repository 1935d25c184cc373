"""python -m services.gateway"""

from libs.runtime.service import run
from services.gateway.app import build

if __name__ == "__main__":
    svc, setup = build()
    run(svc, setup)
