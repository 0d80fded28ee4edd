#!/bin/bash
# QAT round 2: batch 32, lr 5e-5, fp32 on CUDA; x4 with and without distillation, x3/x2 with.
export PYTHONUNBUFFERED=1
STEPS=${STEPS:-5000}
run() { # name scale distill
  timeout ${LIMIT:-330} python3 -m models.qat --checkpoint models/checkpoints/x$2_d19.pt --data .devdata/train \
    --out /tmp/$1 --steps $STEPS --val-every 500 --batch 32 --lr 5e-5 --distill $3 > /tmp/$1.log 2>&1
}
run x4_a 4 0 & run x4_b 4 1 & run x3_b 3 1 & run x2_b 2 1 &
wait
for n in x4_a x4_b x3_b x2_b; do
  cp /tmp/$n/best.pt $OUT/qat2_${n}_best.pt
  echo "== $n"; cat /tmp/$n.log
done > $OUT/qat2.log
cat $OUT/qat2.log
