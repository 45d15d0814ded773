-- wrk script: POST one row to /api/predict (see benches/load.rs for the port).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"sexo":"F","ano_nascimento":1999,"raca":"Pardo","renda":1800.5,"possui_auxilio_alimentacao":"true","possui_auxilio_residencia_moradia":"false","possui_auxilio_transporte":"false","grau_academico":"BACHARELADO","area_conhecimento":"Ciências da Saúde","estado_origem":"Paraíba"}'
