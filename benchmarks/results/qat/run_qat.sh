#!/bin/bash
# QAT fine-tuning of x2/x3/x4 d19 on the GPU, three processes at once.
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch, cv2, onnxruntime; print(torch.__version__, torch.cuda.is_available())"
STEPS=${STEPS:-4000}
for s in 2 3 4; do
  timeout ${LIMIT:-380} python3 -m models.qat --checkpoint models/checkpoints/x${s}_d19.pt --data .devdata/train \
    --out /tmp/qat_x${s} --steps $STEPS --val-every 250 > /tmp/qat_x${s}.log 2>&1 &
done
wait
for s in 2 3 4; do
  cp /tmp/qat_x${s}/best.pt $OUT/qat_x${s}_best.pt; cp /tmp/qat_x${s}/log.csv $OUT/qat_x${s}_log.csv
  echo "== x$s"; cat /tmp/qat_x${s}.log
done | tee $OUT/qat.log
