#!/bin/bash
export PYTHONUNBUFFERED=1
run() { # name scale lr
  timeout 165 python3 -m models.qat --checkpoint models/checkpoints/x$2_d19.pt --data .devdata/train \
    --out /tmp/$1 --steps 3000 --val-every 250 --lr $3 --distill 1 --cuda-bf16 > /tmp/$1.log 2>&1
}
run x4_c 4 5e-5 & run x4_d 4 2e-5 & run x3_c 3 5e-5 &
wait
for n in x4_c x4_d x3_c; do cp /tmp/$n/best.pt $OUT/qat3_${n}_best.pt; echo "== $n"; cat /tmp/$n.log; done > $OUT/qat3.log
cat $OUT/qat3.log
