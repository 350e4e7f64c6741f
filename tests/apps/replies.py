"""Request/reply: a task asks an agent (agent.ask) for each tracked value and waits for the answer."""

import faust

import genmon

VALUES = 8

app = faust.App("genmon-test-replies", broker="kafka://127.0.0.1:9", web_enabled=False)
requests = app.topic("replies-requests", value_type=int, value_serializer="json")
answers: list[int] = []


@genmon.track(name="questions")
async def make_questions():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def ask():
    async for n in make_questions():
        answers.append(await double.ask(value=n))


@app.agent(requests)
async def double(stream):
    async for n in stream:
        yield n * 2
