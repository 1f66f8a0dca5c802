"""The local stack: the whole system on real emulators (`runner-core local up|down|status|demo`, `make demo`).

processes.py   managed child processes: free ports, readiness, one session each, clean shutdown, logs
components.py  how each real component starts (Encord emulator, moto_server, Pub/Sub emulator JAR,
               functions-framework, the Lambda RIE with awslambdaric, the deliverers)
sqs.py         queues + DLQ on moto and the poller that plays Lambda's SQS event source mapping
pubsub.py      topic, subscription (dead-letter, retry) and the bridge that delivers push bodies (or CloudEvents)
stack.py       the Python API: Stack, AwsPath, GcpPath
demo.py / report.py / cli.py   the demo, its HTML report, the commands
testing.py     helpers for end-to-end tests
workers.py     the delivery threads shared by the SQS poller and the Pub/Sub bridge
rie.py         fetches the RIE binary from the aws-sam-cli wheel (`python -m deploy.local.rie fetch`)
"""
